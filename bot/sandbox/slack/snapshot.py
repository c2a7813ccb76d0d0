"""What one person's Slack window shows right now, as JSON for the page to draw.

Only what that person may see: channel history, their own ephemeral messages and private
answers, their App Home and their open modals. Read under the fake's lock.
"""

from __future__ import annotations

import copy
from typing import Any

from .workspace import Workspace

HOME = "home"  # the page's name for the app's Home tab, in place of a channel id


def _names(workspace: Workspace) -> dict[str, str]:
    """Display names for `<@U…>` mentions: the workspace's people and the bot."""
    names = {
        uid: str(u.get("real_name") or u.get("name") or uid) for uid, u in workspace.users.items()
    }
    names[workspace.bot_user_id] = "triage"
    return names


def _message(raw: dict[str, Any], names: dict[str, str], bot: str) -> dict[str, Any]:
    """A message as the page draws it: who wrote it, when, and exactly what the app sent."""
    author = raw.get("user", "")
    message = {
        "ts": raw["ts"],
        "user": author,
        "author": names.get(author, author),
        "bot": author == bot or "bot_id" in raw,
        "text": raw.get("text", ""),
        "edited": "edited" in raw,
    }
    for key in ("blocks", "thread_ts", "reactions", "attachments"):
        if key in raw:
            message[key] = copy.deepcopy(raw[key])
    return message


def _private(raw: dict[str, Any], names: dict[str, str], bot: str, *, kind: str) -> dict[str, Any]:
    """An ephemeral message or a private answer, shown only to the person it is for."""
    message = _message({**raw, "user": bot, "ts": raw["message_ts"]}, names, bot)
    message["ephemeral"] = kind
    if raw.get("command"):
        message["command"] = raw["command"]
    return message


def _channel_view(workspace: Workspace, user: str, channel: str) -> dict[str, Any]:
    names, bot = _names(workspace), workspace.bot_user_id
    history = [m for (ch, _), m in workspace.posted.items() if ch == channel]
    history.sort(key=lambda m: m["ts"])
    top = [m for m in history if m.get("thread_ts") in (None, m["ts"])]
    replies: dict[str, list[dict[str, Any]]] = {}
    for raw in history:
        if raw.get("thread_ts") not in (None, raw["ts"]):
            replies.setdefault(raw["thread_ts"], []).append(_message(raw, names, bot))
    messages = []
    for raw in top:
        message = _message(raw, names, bot)
        message["replies"] = replies.get(raw["ts"], [])
        messages.append(message)
    private = [
        _private(e, names, bot, kind="ephemeral")
        for e in workspace.ephemerals
        if e.get("user") == user and e.get("channel") == channel
    ] + [
        _private(r, names, bot, kind="reply")
        for r in workspace.private_replies
        if r.get("user") == user and r.get("channel") == channel
    ]
    private.sort(key=lambda m: m["ts"])
    problems = [p for p in workspace.problems if p["channel"] == channel]
    return {"messages": messages, "private": private, "problems": problems}


def snapshot(workspace: Workspace, *, user: str, people: list[str], place: str) -> dict[str, Any]:
    """Everything the page needs to draw `place` (a channel id or HOME) for `user`."""
    names = _names(workspace)
    channels = [
        {"id": cid, "name": str(c.get("name", cid)), "topic": str(c.get("topic", ""))}
        for cid, c in workspace.channels.items()
        if not c.get("hidden")
    ]
    channels.sort(key=lambda c: c["name"])
    stack = [copy.deepcopy(workspace.views[v]) for v in workspace.modals.get(user, [])]
    state: dict[str, Any] = {
        "version": workspace.version,
        "team": {"id": workspace.team_id, "name": workspace.team_name},
        "bot": {"id": workspace.bot_user_id, "name": "triage"},
        "me": user,
        "people": [
            {
                "id": uid,
                "name": str(workspace.users[uid].get("name", uid)),
                "real_name": names[uid],
                "title": str(workspace.users[uid].get("title", "")),
            }
            for uid in people
            if uid in workspace.users
        ],
        "names": names,
        "channels": channels,
        "usergroups": {gid: f"group-{gid.lower()}" for gid in workspace.usergroups},
        "place": place,
        "modals": stack,
        "problems": [p for p in workspace.problems if p["channel"] is None],
    }
    if place == HOME:
        home = workspace.home_views.get(user)
        state["home"] = copy.deepcopy(home) if home else None
    elif place in workspace.channels:
        state["channel"] = _channel_view(workspace, user, place)
    return state
