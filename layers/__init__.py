"""Layers built on minigrad's public API: Module, Dense, Embedding, Dropout; the recurrent
layers SimpleRNN, LSTM and GRU with their one-step cells, and RNN(cell) for any cell;
Sequential with Keras's summary, compile and fit (its losses in ``layers.losses``); and the
encoder-decoder Seq2Seq.

The recurrent layers, in reading order: ``rnn`` (RNN: any cell over a sequence, masks,
states), ``simple_rnn``, ``lstm``, ``gru`` (each cell's formulas and the fused op it names),
``recurrent_cell`` (what the built-in cells share: weights, dropout, fast path),
``builtin_recurrent`` (the layers made from Keras's options, declared in ``options``),
``stacked_cells``, ``bidirectional``, and ``torch_weights`` (PyTorch's layout).  The fused
ops themselves are in ``layers.fused``."""

from layers import losses
from layers.attention import AdditiveAttention, Attention
from layers.bidirectional import Bidirectional
from layers.dense import Dense
from layers.dropout import Dropout
from layers.embedded_recurrent import EmbeddedRecurrent
from layers.embedding import Embedding
from layers.gru import GRU, GRUCell
from layers.lstm import LSTM, LSTMCell
from layers.module import Module
from layers.rnn import RNN
from layers.seq2seq import Decoder, Encoder, Seq2Seq
from layers.sequential import Sequential
from layers.simple_rnn import SimpleRNN, SimpleRNNCell
from layers.stacked_cells import StackedRNNCells

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "AdditiveAttention",
    "Attention",
    "Bidirectional",
    "Decoder",
    "Dense",
    "Dropout",
    "EmbeddedRecurrent",
    "Embedding",
    "Encoder",
    "GRUCell",
    "LSTMCell",
    "Module",
    "Seq2Seq",
    "Sequential",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "losses",
]
