"""Mirrors verl/protocol.py (DataProto) at v0.7.0: batch (a TensorDict there,
a dict of tensors here), non_tensor_batch (numpy object arrays), meta_info;
len() and row indexing as DataProtoItem."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DataProtoItem:
    batch: dict = None
    non_tensor_batch: dict = field(default_factory=dict)
    meta_info: dict = field(default_factory=dict)


@dataclass
class DataProto:
    batch: dict = None
    non_tensor_batch: dict = field(default_factory=dict)
    meta_info: dict = field(default_factory=dict)

    def __len__(self):
        if self.batch:
            return next(iter(self.batch.values())).shape[0]
        return len(next(iter(self.non_tensor_batch.values())))

    def __getitem__(self, i):
        return DataProtoItem(batch={k: v[i] for k, v in self.batch.items()},
                             non_tensor_batch={k: v[i] for k, v in self.non_tensor_batch.items()},
                             meta_info=self.meta_info)

    @classmethod
    def from_dict(cls, tensors, non_tensors=None, meta_info=None):
        nt = {k: np.array(v, dtype=object) if not isinstance(v, np.ndarray) else v
              for k, v in (non_tensors or {}).items()}
        return cls(batch=dict(tensors), non_tensor_batch=nt, meta_info=meta_info or {})
