"""The seed's models written by hand in Keras, as its notes write them (Keras 3 spelling).

Each function is the reference that the spec of the same name in specs/ is held to.
"""

from __future__ import annotations

import keras


def fashion_mnist_mlp() -> keras.Model:
    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


fashion_mnist_callbacks = fashion_mnist_mlp


def _deep(variant: str) -> keras.Model:
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28))])
    for _ in range(20):
        if variant == "selu":
            model.add(keras.layers.Dense(100, activation="selu"))
        elif variant == "bn_after_activation":
            model.add(keras.layers.Dense(100, activation="relu"))
            model.add(keras.layers.BatchNormalization())
        else:
            model.add(keras.layers.Dense(100))
            model.add(keras.layers.BatchNormalization())
            model.add(keras.layers.Activation("relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def deep_selu() -> keras.Model:
    return _deep("selu")


def deep_bn_before_activation() -> keras.Model:
    return _deep("bn_before_activation")


def deep_bn_after_activation() -> keras.Model:
    return _deep("bn_after_activation")


def regularized_mlp() -> keras.Model:
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28))])
    model.add(keras.layers.Dense(100, activation="elu", kernel_regularizer=keras.regularizers.l2(0.001)))
    model.add(keras.layers.Dropout(rate=0.5))
    model.add(keras.layers.Dense(100, activation="selu"))
    model.add(keras.layers.AlphaDropout(rate=0.5))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def wide_deep_housing() -> keras.Model:
    input = keras.layers.Input(shape=(8,))
    hidden1 = keras.layers.Dense(30, activation="relu")(input)
    hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
    concat = keras.layers.concatenate([input, hidden2])
    output = keras.layers.Dense(1)(concat)
    model = keras.models.Model(inputs=[input], outputs=[output])
    model.compile(optimizer="adam", loss="mean_squared_error")
    return model


def wide_deep_two_inputs() -> keras.Model:
    input_wide = keras.layers.Input(shape=[5])
    input_deep = keras.layers.Input(shape=[6])
    hidden1 = keras.layers.Dense(30, activation="relu")(input_deep)
    hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
    concat = keras.layers.concatenate([input_wide, hidden2])
    output = keras.layers.Dense(1)(concat)
    model = keras.models.Model(inputs=[input_wide, input_deep], outputs=[output])
    model.compile(optimizer="adam", loss="mse")
    return model


def regression() -> keras.Model:
    model = keras.Sequential()
    model.add(keras.layers.Dense(64, activation="relu", input_shape=(5,)))
    model.add(keras.layers.Dense(64, activation="relu"))
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(0.001), loss="mse", metrics=["mae", "mse"])
    return model


class MyDenseLayer(keras.layers.Layer):
    """The seed's custom layer (Keras 3: add_weight takes name= as a keyword)."""

    def __init__(self, num_outputs: int, **kwargs):
        super().__init__(**kwargs)
        self.num_outputs = num_outputs

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=[int(input_shape[-1]), self.num_outputs])

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.kernel)


class ResnetIdentityBlock(keras.Model):
    """The seed's residual block (Keras 3: keras.ops instead of tf.nn)."""

    def __init__(self, kernel_size, filters):
        super().__init__()
        filters1, filters2, filters3 = filters
        self.conv2a = keras.layers.Conv2D(filters1, (1, 1))
        self.bn2a = keras.layers.BatchNormalization()
        self.conv2b = keras.layers.Conv2D(filters2, kernel_size, padding="same")
        self.bn2b = keras.layers.BatchNormalization()
        self.conv2c = keras.layers.Conv2D(filters3, (1, 1))
        self.bn2c = keras.layers.BatchNormalization()

    def call(self, input_tensor, training=False):
        x = self.conv2a(input_tensor)
        x = self.bn2a(x, training=training)
        x = keras.ops.relu(x)
        x = self.conv2b(x)
        x = self.bn2b(x, training=training)
        x = keras.ops.relu(x)
        x = self.conv2c(x)
        x = self.bn2c(x, training=training)
        x += input_tensor
        return keras.ops.relu(x)


def _residual_block_v1(x: keras.KerasTensor, filters: int, name: str, *, strides: int = 1, conv_shortcut: bool = True) -> keras.KerasTensor:
    """keras.applications.resnet's residual_block_v1, as Keras writes it (the shortcut first)."""
    if conv_shortcut:
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=strides, name=name + "_0_conv")(x)
        shortcut = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_0_bn")(shortcut)
    else:
        shortcut = x
    y = keras.layers.Conv2D(filters, 1, strides=strides, name=name + "_1_conv")(x)
    y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_1_bn")(y)
    y = keras.layers.Activation("relu", name=name + "_1_relu")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", name=name + "_2_conv")(y)
    y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_2_bn")(y)
    y = keras.layers.Activation("relu", name=name + "_2_relu")(y)
    y = keras.layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(y)
    y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=name + "_3_bn")(y)
    y = keras.layers.Add(name=name + "_add")([shortcut, y] if conv_shortcut else [x, y])
    return keras.layers.Activation("relu", name=name + "_out")(y)


def inline_resnet() -> keras.Model:
    """specs/inline_resnet.yaml: its inline blocks are this script's residual_block_v1 calls."""
    image = keras.Input((32, 32, 3), name="image")
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(image)
    x = keras.layers.Conv2D(8, 7, strides=2, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = _residual_block_v1(x, 4, "conv2_block1")
    x = _residual_block_v1(x, 4, "conv2_block2", conv_shortcut=False)
    x = _residual_block_v1(x, 4, "conv2_block3", conv_shortcut=False)
    x = _residual_block_v1(x, 8, "conv3_block1", strides=2)
    x = _residual_block_v1(x, 8, "conv3_block2", conv_shortcut=False)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(image, outputs, name="inline_resnet")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
