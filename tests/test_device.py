"""fastseg._device.DeviceBuffer: the record fastseg.torch hands the CUDA backends, and the face
it shows to anything that takes device arrays (``__cuda_array_interface__``)."""

import numpy as np

from fastseg._device import DeviceBuffer
from fastseg._dispatch import check_same_framework, is_device_array


def test_cuda_array_interface_and_shape():
    owner = np.zeros((3, 5), np.float32)
    buf = DeviceBuffer(0x7F0000001000, (3, 5), "float32", 1, owner)
    assert buf.__cuda_array_interface__ == {"shape": (3, 5), "typestr": "<f4", "strides": None,
                                            "data": (0x7F0000001000, False), "version": 2}
    assert (buf.ndim, buf.size, buf.dtype, buf.device, buf.owner) == (2, 15, np.dtype(np.float32), 1, owner)
    assert "0x7f0000001000" in repr(buf) and "device=1" in repr(buf)


def test_empty_buffer_has_a_null_pointer():
    assert DeviceBuffer(0x1000, (0, 4), np.float64, 0).__cuda_array_interface__["data"] == (0, False)


def test_dispatch_takes_it_for_a_device_array():
    buf = DeviceBuffer(0x1000, (2, 3), np.float32, 0)
    assert is_device_array(buf)
    assert check_same_framework(y_true=buf, y_pred=buf) == "device"
