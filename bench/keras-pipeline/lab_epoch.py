"""The peer of `npx tsx bench/flowers-epoch.ts epoch` (issue 20 part 7): the Keras flowers lab on
TensorFlow's CPU runtime, timed per epoch on the same cores, photos and weights.

Frozen MobileNetV2 (the shared safetensors assigned by layer/weight name) + Flatten + Dense(5, softmax),
192x192, batch 64, Adam 1e-3, sparse categorical cross-entropy, accuracy; the files come from
`keras.utils.image_dataset_from_directory` (validation split 0.19, seed 123, subset 'both'), mapped through
`mobilenet_v2.preprocess_input` and prefetched (tf.data.AUTOTUNE), as the lab does. It prints each epoch's
wall and CPU seconds (the process, all threads) and the validation accuracy.

Run by hand, not by CI (needs tensorflow-cpu and safetensors; pip installs them from the local index that
`pip config list` shows):
    python bench/keras-pipeline/lab_epoch.py [--data DIR] [--weights FILE] [--epochs 3]
"""

import argparse
import os
import resource
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(SHARED, "data", "flower_photos"))
    ap.add_argument(
        "--weights",
        default=os.path.join(SHARED, "weights", "mobilenet_v2", "mobilenet_v2_1.0_224_no_top.safetensors"),
    )
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()

    import keras
    import tensorflow as tf
    from backbone import assign_weights
    from safetensors.numpy import load_file

    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs")
    size, batch = 192, 64
    train, val = keras.utils.image_dataset_from_directory(
        a.data, validation_split=0.19, subset="both", seed=123, image_size=(size, size), batch_size=batch
    )
    pre = keras.applications.mobilenet_v2.preprocess_input
    train = train.map(lambda x, y: (pre(x), y)).prefetch(tf.data.AUTOTUNE)
    val = val.map(lambda x, y: (pre(x), y)).prefetch(tf.data.AUTOTUNE)

    weights = load_file(a.weights)
    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False, weights=None)
    assign_weights(base, weights)
    base.trainable = False
    model = keras.Sequential([base, keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax")])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t, self.c = time.perf_counter(), cpu_seconds()

        def on_epoch_end(self, epoch, logs=None):
            wall, cpu = time.perf_counter() - self.t, cpu_seconds() - self.c
            print(
                f"epoch {epoch + 1}: {wall:.2f} s wall, {cpu:.2f} s cpu, "
                f"val_accuracy {logs.get('val_accuracy', float('nan')):.3f}",
                flush=True,
            )

    model.fit(train, validation_data=val, epochs=a.epochs, verbose=0, callbacks=[Timer()])


if __name__ == "__main__":
    main()
