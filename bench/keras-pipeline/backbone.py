"""Keras' MobileNetV2 backbone with the shared safetensors weights assigned by layer/weight name (as in
../shared/weights/mobilenet_v2/tools/make_reference.py). Shared by make_reference.py and lab_epoch.py."""


def assign_weights(base, weights):
    """Assigns `weights` ({'layer/weight': array}, Keras 2 names) to `base`; every one must be used."""
    used = set()
    for layer in base.layers:
        for var in layer.weights:
            name = var.name.split('/')[-1].split(':')[0]
            if layer.__class__.__name__ == 'DepthwiseConv2D' and name == 'kernel':
                name = 'depthwise_kernel'  # Keras 3 calls it 'kernel'; the file (Keras 2 names) does not
            key = f'{layer.name}/{name}'
            var.assign(weights[key])
            used.add(key)
    assert used == set(weights), set(weights) ^ used
    return base
