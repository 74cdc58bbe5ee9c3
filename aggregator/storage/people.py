"""Reps (and their hashed feed tokens), users, notes and useful-marks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from aggregator.config.schema import RepConfig
from aggregator.storage.models import MarkRow, NoteRow, RepRow, UserRow


class PeopleMixin:
    engine: Engine

    def sync_reps(self, reps: Sequence[RepConfig]) -> None:
        """Create a row per configured rep; tokens of reps removed from config stay revoked-able."""
        with Session(self.engine) as session:
            rows = {r.id: r for r in session.exec(select(RepRow)).all()}
            for rep in reps:
                row = rows.get(rep.id) or RepRow(id=rep.id)
                row.name = rep.name
                session.add(row)
            session.commit()

    def rep(self, rep_id: str) -> RepRow | None:
        with Session(self.engine) as session:
            return session.get(RepRow, rep_id)

    def reps(self) -> list[RepRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(RepRow).order_by(RepRow.id)).all())  # type: ignore[arg-type]

    def set_rep_token_hash(self, rep_id: str, token_hash: str | None, now: datetime) -> None:
        with Session(self.engine) as session:
            row = session.get(RepRow, rep_id) or RepRow(id=rep_id)
            row.token_hash, row.token_created_at = token_hash, now
            session.add(row)
            session.commit()

    def rep_by_token_hash(self, token_hash: str) -> RepRow | None:
        with Session(self.engine) as session:
            return session.exec(select(RepRow).where(RepRow.token_hash == token_hash)).first()

    # users -----------------------------------------------------------------
    def user(self, username: str) -> UserRow | None:
        if "\x00" in username:  # no stored name has one, and PostgreSQL refuses the query (a 500 at sign-in)
            return None
        with Session(self.engine) as session:
            return session.exec(select(UserRow).where(UserRow.username == username)).first()

    def user_by_id(self, user_id: int) -> UserRow | None:
        with Session(self.engine) as session:
            return session.get(UserRow, user_id)

    def users(self) -> list[UserRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(UserRow).order_by(UserRow.username)).all())  # type: ignore[arg-type]

    def upsert_user(self, username: str, password_hash: str, role: str, rep_id: str | None,
                    now: datetime) -> UserRow:
        with Session(self.engine) as session:
            row = session.exec(select(UserRow).where(UserRow.username == username)).first()
            if row is None:
                row = UserRow(username=username, password_hash=password_hash, role=role, rep_id=rep_id,
                              created_at=now)
            else:  # a new password, role or rep: sessions signed in under the old ones end
                row.password_hash, row.role, row.rep_id = password_hash, role, rep_id
                row.session_epoch += 1
            session.add(row)
            session.commit()
            session.refresh(row)
            return row

    def set_user_password(self, username: str, password_hash: str) -> bool:
        with Session(self.engine) as session:
            row = session.exec(select(UserRow).where(UserRow.username == username)).first()
            if row is None:
                return False
            row.password_hash = password_hash
            row.session_epoch += 1  # signs them out everywhere
            session.add(row)
            session.commit()
            return True

    def end_user_sessions(self, user_id: int) -> None:
        """Refuse every session cookie issued to this user so far (sign-out: copies of the cookie die too)."""
        with Session(self.engine) as session:
            session.execute(update(UserRow).where(UserRow.id == user_id)  # type: ignore[arg-type]
                            .values(session_epoch=UserRow.session_epoch + 1))
            session.commit()

    def set_user_api_token_hash(self, user_id: int, token_hash: str | None) -> None:
        with Session(self.engine) as session:
            row = session.get(UserRow, user_id)
            if row is not None:
                row.api_token_hash = token_hash
                session.add(row)
                session.commit()

    def user_by_api_token_hash(self, token_hash: str) -> UserRow | None:
        with Session(self.engine) as session:
            return session.exec(select(UserRow).where(UserRow.api_token_hash == token_hash)).first()

    def remove_user(self, username: str) -> bool:
        with Session(self.engine) as session:
            row = session.exec(select(UserRow).where(UserRow.username == username)).first()
            if row is None:
                return False
            session.delete(row)
            session.commit()
            return True

    # notes and marks ---------------------------------------------------------
    def add_note(self, prospect_id: str, user_id: int, body: str, now: datetime,
                 item_id: int | None = None) -> NoteRow:
        with Session(self.engine) as session:
            note = NoteRow(prospect_id=prospect_id, item_id=item_id, user_id=user_id,
                           body=body.replace("\x00", ""), created_at=now)  # PostgreSQL text cannot hold NUL
            session.add(note)
            session.commit()
            session.refresh(note)
            return note

    def notes(self, prospect_id: str) -> list[NoteRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(NoteRow).where(NoteRow.prospect_id == prospect_id)
                                     .order_by(NoteRow.created_at.desc())).all())  # type: ignore[attr-defined]

    def mark_useful(self, item_id: int, user_id: int, now: datetime) -> None:
        with Session(self.engine) as session:
            exists = session.exec(select(MarkRow).where(MarkRow.item_id == item_id,
                                                        MarkRow.user_id == user_id)).first()
            if exists is None:
                session.add(MarkRow(item_id=item_id, user_id=user_id, created_at=now))
                session.commit()
