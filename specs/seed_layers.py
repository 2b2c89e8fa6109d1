"""The seed's MyDenseLayer, in Keras 3: a kernel, no bias, a matmul.

`imports: [seed_layers]` in my_dense_layer.yaml imports this module before the build,
and the decorator makes the class available to specs as `seed>MyDenseLayer`.
"""

import keras


@keras.saving.register_keras_serializable(package="seed")
class MyDenseLayer(keras.layers.Layer):
    def __init__(self, num_outputs: int, **kwargs):
        super().__init__(**kwargs)
        self.num_outputs = num_outputs

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=[int(input_shape[-1]), self.num_outputs])

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.kernel)

    def get_config(self):
        return {**super().get_config(), "num_outputs": self.num_outputs}
