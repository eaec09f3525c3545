"""The peer: the same API written the way most Flask users would, with Flask-SQLAlchemy.

An ORM model, `db.session`, `db.create_all()`, the extension's default engine settings (a pool per
worker, a transaction per request), jsonify. What a user would pick instead of this app: it is
what the app's throughput is compared with (issue 9: at least 2x). It checks that the three
fields are there, as a tutorial would, and nothing else. DATABASE_URL: a PostgreSQL URL. The
benchmark imports it once before gunicorn starts, so that the workers' create_all() finds the table.
"""

import os
from datetime import UTC, datetime

from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
app.json.sort_keys = False
db = SQLAlchemy(app)


class Comment(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    content_id: Mapped[str] = mapped_column(db.String(64), index=True)
    email: Mapped[str] = mapped_column(db.String(320))
    comment: Mapped[str] = mapped_column(db.Text)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=lambda: datetime.now(UTC))

    def to_dict(self) -> dict:
        return {
            "email": self.email,
            "comment": self.comment,
            "id": self.id,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
        }


with app.app_context():
    db.create_all()


@app.post("/api/comment/new")
def api_comment_new():
    data = request.get_json()
    if not all(data.get(key) for key in ("email", "comment", "content_id")):
        abort(400)
    comment = Comment(content_id=str(data["content_id"]), email=data["email"], comment=data["comment"])
    db.session.add(comment)
    db.session.commit()
    return jsonify(
        status="SUCCESS",
        message=f"comment created and associated with content_id {comment.content_id}",
        id=comment.id,
        content_id=comment.content_id,
        created_at=comment.created_at.astimezone(UTC).isoformat(),
    )


@app.get("/api/comment/list/<content_id>")
def api_comment_list(content_id):
    found = db.session.execute(db.select(Comment).filter_by(content_id=content_id).order_by(Comment.id)).scalars()
    comments = [c.to_dict() for c in found]
    if comments:
        return jsonify(comments)
    return jsonify(status="NOT-FOUND", message=f"content_id {content_id} not found"), 404


@app.get("/healthz")
def healthz():
    return jsonify(status="OK")
