"""The networks: plain `nn.Module`s mapping a window (B, L, F) to a forecast (B, H, C).

No pandas and no Lightning here; loss, optimizer and logging live in `forecaster.training.module`.

| name | what |
| --- | --- |
| `rnn` | Elman RNN: the hidden state fed back, h_t = tanh(W x_t + U h_{t-1} + b) (relu selectable) |
| `jordan` | Jordan RNN: the previous step's output fed back instead of the hidden state |
| `lstm` | LSTM: forget, input and output gates around an additive cell state |
| `cifg` | coupled-input-forget-gate LSTM: input gate = 1 - forget gate |
| `gru` | GRU: update and reset gates |
| `birnn`, `bilstm`, `bigru` | the same, bidirectional over the input window |
| `seq2seq` | encoder-decoder: a decoder cell unrolled over the horizon (teacher forcing in training) |
| `seq2seq-attn` | the same, attending over every encoder state at each decoder step |
| `vec2seq` | 1 to N: the decoder generates H steps from the window's last row alone |
| `segrnn` | SegRNN: one cell over segments of the window (L/w steps instead of L), all future segments decoded at once |

The first eight use a direct head: the encoder's summary emits all H steps at once (N to 1
when H = 1). Stacked layers and dropout apply to every encoder.

The names live in `forecaster.config` (checking a config never imports torch);
`forecaster.nets.build` builds the networks and states their output contract.
"""

from forecaster.config import BIDIRECTIONAL, DECODING, DIRECT, NETWORKS, NORMS, SEGMENT_DECODING, SEGMENTED

__all__ = ["BIDIRECTIONAL", "DECODING", "DIRECT", "NETWORKS", "NORMS", "SEGMENT_DECODING", "SEGMENTED"]
