"""flexrec: FlexRec's reward in Python trainers (TRL, verl, OpenRLHF).

The reward functions live in :mod:`flexrec.reward`; they call the
``flexrec serve`` program, so Python and Go score every answer the same.
"""

from .reward import (  # noqa: F401
    Client,
    FlexrecError,
    compute_score,
    compute_score_batch,
    ndcg_reward,
    score,
)

__version__ = "0.1.0"
