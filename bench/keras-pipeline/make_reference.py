"""Keras' own image pipeline on flower photos the tests never use, as the reference for compare.ts.

For each photo: tf.io.decode_image(channels=3) (what keras.utils.image_dataset_from_directory calls;
for JPEGs it is tf.io.decode_jpeg with TF's default INTEGER_FAST IDCT) -> tf.image.resize(192x192,
bilinear) -> x / 127.5 - 1 -> keras.applications.MobileNetV2(input_shape=(192,192,3), include_top=False)
with the weights of ../shared/weights/mobilenet_v2 (loaded by name as in its tools/make_reference.py)
-> out_relu [6, 6, 1280]. Writes the resized pixels and the features (float32) plus manifest.json into
bench/keras-pipeline/out/ (git-ignored).

usage (by hand): python bench/keras-pipeline/make_reference.py [per_class=4]
with tensorflow-cpu 2.21, keras 3, numpy.
"""
import json
import os
import re
import struct
import subprocess
import sys

import numpy as np

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from backbone import assign_weights  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get('WGSL_NN_SHARED', os.path.join(REPO, '..', 'shared'))
FLOWERS = os.path.join(SHARED, 'data', 'flower_photos')
WEIGHTS = os.path.join(SHARED, 'weights', 'mobilenet_v2', 'mobilenet_v2_1.0_224_no_top.safetensors')
OUT = os.path.join(HERE, 'out')
SIZE = 192


def load_st(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    hdr.pop('__metadata__', None)
    return {k: np.frombuffer(data[v['data_offsets'][0]:v['data_offsets'][1]], '<f4').reshape(v['shape'])
            for k, v in hdr.items()}


def keras_backbone():
    w = load_st(WEIGHTS)
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=1.0, include_top=False, weights=None)
    return assign_weights(base, w)


def files_used_by_tests():
    """Photo names that appear anywhere in test/, examples/ or bench/ (excluded from the sample)."""
    out = subprocess.run(['git', 'grep', '-ohE', r'[0-9]+_[0-9a-f]+(_[a-z])?\.jpg', '--', 'test', 'examples', 'bench'],
                         cwd=REPO, capture_output=True, text=True).stdout
    return set(out.split())


def main():
    per_class = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    skip = files_used_by_tests()
    rng = np.random.default_rng(16)
    picks = []
    for cls in sorted(os.listdir(FLOWERS)):
        d = os.path.join(FLOWERS, cls)
        if not os.path.isdir(d):
            continue
        names = sorted(n for n in os.listdir(d) if n.lower().endswith('.jpg') and n not in skip)
        names = names[5:]  # the first few of each folder served for hand checks while developing
        for i in rng.choice(len(names), per_class, replace=False):
            picks.append(f'{cls}/{names[i]}')
    os.makedirs(OUT, exist_ok=True)
    model = keras_backbone()
    entries = []
    for rel in picks:
        data = tf.io.read_file(os.path.join(FLOWERS, rel))
        img = tf.io.decode_image(data, channels=3, expand_animations=False)
        x = tf.image.resize(img, (SIZE, SIZE), method='bilinear')
        feats = model(tf.expand_dims(x / 127.5 - 1, 0), training=False).numpy()[0]
        key = re.sub(r'[^A-Za-z0-9_.-]', '_', rel)
        x.numpy().astype('<f4').tofile(os.path.join(OUT, f'{key}.pixels.f32'))
        feats.astype('<f4').tofile(os.path.join(OUT, f'{key}.out_relu.f32'))
        sampling = None
        with open(os.path.join(FLOWERS, rel), 'rb') as f:
            b = f.read()
        m = re.search(rb'\xff[\xc0\xc2]', b)
        if m:
            o = m.start() + 2
            nc = b[o + 7]
            sampling = ','.join(f'{b[o + 9 + 3 * i] >> 4}x{b[o + 9 + 3 * i] & 15}' for i in range(nc))
        entries.append({'file': rel, 'key': key, 'srcHeight': int(img.shape[0]), 'srcWidth': int(img.shape[1]),
                        'sampling': sampling, 'progressive': bool(m and b[m.start() + 1] == 0xc2)})
        print(rel, img.shape, sampling)
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump({'size': SIZE, 'producer': f'tensorflow {tf.__version__}, keras {keras.__version__}',
                   'images': entries}, f, indent=1)


if __name__ == '__main__':
    main()
