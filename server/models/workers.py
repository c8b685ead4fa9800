"""The worker registry: each ``assay worker`` process says what it can run, and that it lives.

A row per worker process (``host/pid``), with its capacity (GPUs, gradings at once) and a
heartbeat renewed by its sweeper. Placement (``server.placement``) reads it: a grading whose
challenge needs a GPU goes only to a worker with one, and when no live worker has one the
candidate's and the staff's pages say so instead of showing a queue that never moves.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class WorkerRecord(Base):
    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``host/pid``, as in ``Grading.lease_owner``'s first part.
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    host: Mapped[str] = mapped_column(sa.String(128))
    gpus: Mapped[int] = mapped_column(default=0)
    #: Gradings it runs at once (its threads).
    slots: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
