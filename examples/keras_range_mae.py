"""Train a Keras 1-D conv denoiser on the demo's piecewise-constant signals with
``fastseg.keras.RangeMAE`` — the drop-in replacement for a hand-written ``rwmae`` loss.

    python examples/keras_range_mae.py            # TensorFlow backend
    KERAS_BACKEND=torch python examples/keras_range_mae.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import fastseg  # noqa: E402
import fastseg.keras  # noqa: E402
from fastseg.demo import make_data  # noqa: E402


def main(epochs: int = 15, rows: int = 2048, length: int = 256) -> None:
    keras.utils.set_random_seed(0)
    clean, noisy = make_data(np.random.default_rng(0), rows, length)
    model = keras.Sequential([
        keras.Input((length, 1)),
        keras.layers.Conv1D(32, 9, padding="same", activation="relu"),
        keras.layers.Conv1D(32, 9, padding="same", activation="relu"),
        keras.layers.Conv1D(1, 9, padding="same"),
        keras.layers.Reshape((length,)),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=fastseg.keras.RangeMAE())
    split = rows * 7 // 8
    model.fit(noisy[:split, :, None], clean[:split], validation_data=(noisy[split:, :, None], clean[split:]),
              epochs=epochs, batch_size=64, verbose=2)
    pred = model.predict(noisy[split:, :, None], verbose=0)
    print(f"\nbackend {keras.backend.backend()}: held-out range-wise MAE "
          f"{float(fastseg.range_mae(clean[split:], pred)):.4f} "
          f"(noisy input: {float(fastseg.range_mae(clean[split:], noisy[split:])):.4f})")


if __name__ == "__main__":
    main()
