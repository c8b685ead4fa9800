"""Known-bad example: the BiLSTM-CRF answer that circulates in interview banks.

tensorflow_addons reached end of life and does not work with Keras 3; it is
not installed in the grader, so the import fails before build_model() is
called. A CRF would not help anyway: it scores label sequences, and a review
has one label. Expected: import_error.
"""

import keras
from keras import layers
from tensorflow_addons.layers import CRF


def build_model():
    vectorizer = layers.TextVectorization(max_tokens=20_000, output_sequence_length=200)
    inputs = keras.Input(shape=(1,), dtype="string")
    x = vectorizer(inputs)
    x = layers.Embedding(20_000, 64, mask_zero=True)(x)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    outputs = CRF(2)(x)
    return keras.Model(inputs, outputs)
