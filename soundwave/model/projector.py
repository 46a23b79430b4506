"""SpeechLLM's projector: an MLP from stacked encoder frames to the LLM's embedding space, plus a linear residual.

    stacked (B, T', k*D_a) --Linear(in->h)+act, n x [Linear(h->h)+act], Linear(h->D)--> (+) --> embeds (B, T', D)
                            \\------------------- Linear(in->D) (residual) -----------------/

Every Linear is xavier-uniform initialised with zero bias, as in the SpeechLLM seed (`MLPProjector(residual=True)`).
"""

from __future__ import annotations

from torch import Tensor, nn
from transformers.activations import ACT2FN


class Projector(nn.Module):
    """MLP with `n_layers` hidden Linear+activation blocks and a linear residual from input to output.

    Args:
        in_dim: width of a stacked frame (k x encoder width).
        out_dim: LLM hidden size D.
        hidden_dim: width of the hidden layers h.
        n_layers: number of hidden h->h blocks (the seed's `projector_n_layers`).
        activation: a transformers activation name ("relu", "gelu", "silu", ...).

    Raises:
        ValueError: an unknown activation name or a negative layer count.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int, n_layers: int, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACT2FN:
            raise ValueError(f"projector activation {activation!r} is unknown; use one of {sorted(ACT2FN)}")
        if n_layers < 0:
            raise ValueError(f"projector n_layers must be >= 0, got {n_layers}")
        layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim), ACT2FN[activation]]
        for _ in range(n_layers):
            layers += [nn.Linear(hidden_dim, hidden_dim), ACT2FN[activation]]
        layers.append(nn.Linear(hidden_dim, out_dim))
        self.mlp = nn.Sequential(*layers)
        self.residual = nn.Linear(in_dim, out_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights and zero biases on every Linear (the seed's initialisation)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, stacked: Tensor) -> Tensor:
        """stacked (B, T', in_dim) -> audio embeds (B, T', out_dim)."""
        return self.mlp(stacked) + self.residual(stacked)
