"""Layers built on minigrad's public API: Module, Dense, Embedding, Dropout and the
recurrent layers SimpleRNN, LSTM and GRU with their one-step cells."""

from layers.dense import Dense
from layers.dropout import Dropout
from layers.embedding import Embedding
from layers.gru import GRU, GRUCell
from layers.lstm import LSTM, LSTMCell
from layers.module import Module
from layers.simple_rnn import SimpleRNN, SimpleRNNCell

__all__ = [
    "GRU",
    "LSTM",
    "Dense",
    "Dropout",
    "Embedding",
    "GRUCell",
    "LSTMCell",
    "Module",
    "SimpleRNN",
    "SimpleRNNCell",
]
