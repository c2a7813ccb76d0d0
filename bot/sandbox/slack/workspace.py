"""In-memory Slack workspace behind the fake Web API, answering the way Slack does."""

from __future__ import annotations

import copy
import itertools
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

Params = dict[str, Any]
Answer = dict[str, Any]

PERMALINK_HOST = "https://fake.slack"
_BASE_MICROS = 1_700_000_000_000_000
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
PROBLEMS_KEPT = 50


def _fail(error: str) -> Answer:
    """Build Slack's error body so every method reports failures the same way."""
    return {"ok": False, "error": error}


class Workspace:
    """State of one fake workspace; not thread-safe on its own (the server holds a lock)."""

    def __init__(
        self,
        *,
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        team_name: str = "Fake Team",
        users: Mapping[str, Mapping[str, Any]] | None = None,
        channels: Mapping[str, Mapping[str, Any]] | None = None,
        strict_channels: bool = False,
        real_time: bool = False,
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.team_name = team_name
        self.users = {k: dict(v) for k, v in (users or {}).items()}
        self.channels = {k: {"id": k, **v} for k, v in (channels or {}).items()}
        # Strict: an unknown channel id is channel_not_found, as in Slack (the sandbox). Tests
        # post to ids they never declared, so by default any id is taken as an existing channel.
        self.strict_channels = strict_channels
        self.real_time = real_time  # message ts from the clock (the page shows it), or counted
        self.permalink_host = PERMALINK_HOST  # the sandbox points links at its own page
        self.usergroups: dict[str, list[str]] = {}  # user group id -> member ids; tests set it
        self._channel_counter = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Forget everything posted so one fake can serve several phases of a test."""
        self._ts_counter = itertools.count(1)
        self._last_micros = 0
        self._view_counter = itertools.count(1)
        self.posted: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.reactions: list[dict[str, str]] = []
        # What the page shows beyond the Web API's own state: private answers to commands and
        # clicks (acks and response_url posts), open modals per person, and refused calls.
        self.private_replies: list[dict[str, Any]] = []
        self.modals: dict[str, list[str]] = {}  # user -> view ids, bottom of the stack first
        self.triggers: dict[str, str] = {}  # trigger_id -> the user whose action made it
        self.problems: list[dict[str, Any]] = []
        self.version = 0  # bumped on every change, so the page knows when to redraw

    def next_ts(self) -> str:
        """Hand out strictly increasing Slack-style timestamps like 1700000000.000100."""
        micros = _BASE_MICROS + next(self._ts_counter) * 100
        if self.real_time:
            micros = max(int(time.time() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def handler(self, method: str) -> Callable[[Params], Answer] | None:
        """Look up the implementation of a Web API method, None when the fake lacks it."""
        return {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.delete": self.chat_delete,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "views.open": self.views_open,
            "views.push": self.views_push,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "users.info": self.users_info,
            "conversations.info": self.conversations_info,
            "conversations.list": self.conversations_list,
            "usergroups.users.list": self.usergroups_users_list,
            "reactions.add": self.reactions_add,
        }.get(method)

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Current state of posted messages (updates applied), oldest first."""
        found = [m for (ch, _), m in self.posted.items() if channel in (None, ch)]
        return copy.deepcopy(sorted(found, key=lambda m: m["ts"]))

    def auth_test(self, params: Params) -> Answer:
        """Identify the bot, which bolt calls before it handles its first request."""
        return {
            "ok": True,
            "url": f"{self.permalink_host}/",
            "team": self.team_name,
            "user": "triagebot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def channel_id(self, ref: str | None, *, create: bool = True) -> str | None:
        """The id of a channel given by id, name or #name; a new name makes a new channel.

        A name nobody used yet stands for a channel that exists (the sandbox's people create
        channels by naming them); an unknown id exists only when channels are not strict.
        """
        ref = (ref or "").strip()
        if not ref:
            return None
        if ref in self.channels:
            return ref
        name = ref.removeprefix("#")
        for channel_id, channel in self.channels.items():
            if channel.get("name") == name:
                return channel_id
        if CHANNEL_ID.match(ref):
            if self.strict_channels:
                return None
            self.channels[ref] = {"id": ref, "name": f"channel-{ref.lower()}"}
            return ref
        if not create or not CHANNEL_NAME.match(name):
            return None
        channel_id = f"C0NEW{next(self._channel_counter):04d}"
        self.channels[channel_id] = {"id": channel_id, "name": name}
        return channel_id

    def chat_post_message(self, params: Params) -> Answer:
        """Store a new message and answer with its ts, like chat.postMessage."""
        channel = self.channel_id(params.get("channel"))
        if not channel:
            return _fail("channel_not_found")
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return _fail("no_text")
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "text": params.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        self.posted[(channel, ts)] = {**message, "channel": channel}
        return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def chat_update(self, params: Params) -> Answer:
        """Replace text/blocks of a stored message, failing like Slack for unknown ts."""
        channel, ts = self.channel_id(params.get("channel"), create=False), params.get("ts")
        if not channel:
            return _fail("channel_not_found")
        message = self.posted.get((channel, ts or ""))
        if message is None:
            return _fail("message_not_found")
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}
        reply = {k: v for k, v in message.items() if k != "channel"}
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"], "message": reply}

    def chat_delete(self, params: Params) -> Answer:
        """Remove a stored message the way chat.delete does."""
        key = (params.get("channel") or "", params.get("ts") or "")
        if self.posted.pop(key, None) is None:
            return _fail("message_not_found")
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def chat_post_ephemeral(self, params: Params) -> Answer:
        """Keep an ephemeral message aside (it is never part of channel history)."""
        channel = self.channel_id(params.get("channel"))
        if not channel:
            return _fail("channel_not_found")
        if not params.get("user"):
            return _fail("user_not_found")
        ts = self.next_ts()
        self.ephemerals.append({**params, "channel": channel, "message_ts": ts})
        return {"ok": True, "message_ts": ts}

    def chat_get_permalink(self, params: Params) -> Answer:
        """Build a deterministic permalink so tests can assert on links in messages."""
        channel, ts = params.get("channel"), params.get("message_ts")
        if not channel:
            return _fail("channel_not_found")
        if not ts:
            return _fail("message_not_found")
        link = f"{self.permalink_host}/archives/{channel}/p{str(ts).replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def store_view(self, view: Any, view_id: str | None = None) -> Answer:
        """Keep a view the way Slack echoes it back, with id, hash and empty state."""
        if not isinstance(view, dict) or "type" not in view:
            return _fail("invalid_arguments")
        view_id = view_id or f"V{next(self._view_counter):08d}"
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "app_id": "A0001",
            "bot_id": self.bot_id,
            "state": {"values": {}},
            "hash": f"{view_id}.{self.next_ts()}",
            "private_metadata": "",
            "callback_id": "",
            **copy.deepcopy(view),
        }
        self.views[view_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def views_open(self, params: Params) -> Answer:
        """Open a modal for the person whose action made the trigger; Slack needs a trigger_id."""
        trigger = params.get("trigger_id")
        if not trigger:
            return _fail("invalid_trigger_id")
        answer = self.store_view(params.get("view"))
        user = self.triggers.get(str(trigger))
        if answer["ok"] and user is not None:
            self.modals[user] = [answer["view"]["id"]]
        return answer

    def views_push(self, params: Params) -> Answer:
        """Push a modal on top of the person's open one."""
        trigger = params.get("trigger_id")
        if not trigger:
            return _fail("invalid_trigger_id")
        answer = self.store_view(params.get("view"))
        user = self.triggers.get(str(trigger))
        if answer["ok"] and user is not None:
            self.modals.setdefault(user, []).append(answer["view"]["id"])
        return answer

    def views_update(self, params: Params) -> Answer:
        """Replace a view found by view_id or external_id."""
        view_id = params.get("view_id")
        if not view_id:
            external = params.get("external_id")
            view_id = next(
                (k for k, v in self.views.items() if external and v.get("external_id") == external),
                None,
            )
        if view_id not in self.views:
            return _fail("not_found")
        return self.store_view(params.get("view"), view_id)

    def views_publish(self, params: Params) -> Answer:
        """Publish a user's App Home view."""
        user_id = params.get("user_id")
        if not user_id:
            return _fail("invalid_arguments")
        known = self.home_views.get(user_id, {}).get("id")  # one Home view per person
        answer = self.store_view(params.get("view"), known)
        if answer["ok"]:
            self.home_views[user_id] = answer["view"]
        return answer

    def users_info(self, params: Params) -> Answer:
        """Describe a user, generating a plausible one unless the test configured it."""
        user_id = params.get("user")
        if not user_id:
            return _fail("user_not_found")
        extra = self.users.get(user_id, {})
        name = extra.get("name", f"user_{user_id.lower()}")
        real_name = extra.get("real_name", f"User {user_id}")
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "is_bot": False,
            "tz": "Europe/London",
            "profile": {"real_name": real_name, "display_name": name},
            **{k: v for k, v in extra.items() if k not in ("name", "real_name")},
        }
        return {"ok": True, "user": user}

    def usergroups_users_list(self, params: Params) -> Answer:
        """List a user group's members, failing like Slack for an unknown group."""
        group = params.get("usergroup")
        if group not in self.usergroups:
            return _fail("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}

    def conversations_info(self, params: Params) -> Answer:
        """Describe a channel, generating a plausible one unless the test configured it."""
        channel_id = params.get("channel")
        if not channel_id:
            return _fail("channel_not_found")
        extra = self.channels.get(channel_id, {})
        channel = {
            "id": channel_id,
            "name": f"channel-{channel_id.lower()}",
            "is_channel": True,
            "is_private": False,
            "is_archived": False,
            "is_member": True,
            **extra,
        }
        return {"ok": True, "channel": channel}

    def conversations_list(self, params: Params) -> Answer:
        """Page through the configured channels as Slack does (limit, cursor, types)."""
        types = set(str(params.get("types") or "public_channel").split(","))
        archived_too = str(params.get("exclude_archived", "false")).lower() not in ("true", "1")
        listed = [
            self.conversations_info({"channel": channel_id})["channel"]
            for channel_id in sorted(self.channels)
        ]
        listed = [
            c
            for c in listed
            if ("private_channel" if c["is_private"] else "public_channel") in types
            and (archived_too or not c["is_archived"])
        ]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = listed[start : start + limit]
        following = start + limit if start + limit < len(listed) else ""
        return {
            "ok": True,
            "channels": page,
            "response_metadata": {"next_cursor": str(following)},
        }

    def reactions_add(self, params: Params) -> Answer:
        """Record a reaction; works on any ts because users' own messages are not stored."""
        channel, ts, name = params.get("channel"), params.get("timestamp"), params.get("name")
        if not channel:
            return _fail("channel_not_found")
        if not ts:
            return _fail("message_not_found")
        if not name:
            return _fail("invalid_name")
        reaction = {"channel": channel, "timestamp": ts, "name": name}
        if reaction in self.reactions:
            return _fail("already_reacted")
        self.reactions.append(reaction)
        message = self.posted.get((channel, ts))
        if message is not None:
            message.setdefault("reactions", []).append(
                {"name": name, "users": [self.bot_user_id], "count": 1}
            )
        return {"ok": True}

    def apply_response(
        self, channel: str | None, ts: str | None, body: dict[str, Any], user: str | None = None
    ) -> None:
        """Mirror what Slack does for a response_url POST: edit or delete the original, post
        in the channel, or (the default) show the answer only to the person who acted."""
        if channel is None:
            return
        if ts is not None and body.get("delete_original"):
            self.posted.pop((channel, ts), None)
        elif ts is not None and body.get("replace_original") and (channel, ts) in self.posted:
            message = self.posted[(channel, ts)]
            message["text"] = body.get("text", "")
            message.pop("blocks", None)
            for key in ("blocks", "attachments"):
                if key in body:
                    message[key] = body[key]
        elif body.get("response_type") == "in_channel":
            self.chat_post_message({**body, "channel": channel})
        elif user is not None and not body.get("replace_original"):
            self.add_private_reply(user, channel, body)

    # -- what people do and see (the page) ---------------------------------------------------

    def add_private_reply(self, user: str, channel: str, body: dict[str, Any]) -> None:
        """An answer only `user` sees: a command's ack, a response_url post."""
        kept = ("text", "blocks", "thread_ts", "command")
        reply: dict[str, Any] = {k: copy.deepcopy(body[k]) for k in kept if k in body}
        self.private_replies.append(
            {**reply, "channel": channel, "user": user, "message_ts": self.next_ts()}
        )

    def post_as_person(
        self, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """Store a person's message, as Slack does before telling the app about it."""
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "team": self.team_id,
            "text": text,
            "ts": self.next_ts(),
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.posted[(channel, message["ts"])] = {**message, "channel": channel}
        return {**message, "channel": channel, "channel_type": "channel"}

    def note_problem(self, method: str, channel: str | None, error: str, detail: str) -> None:
        """Keep a call Slack refused (or warned about), so the page shows it where it happened."""
        self.problems.append(
            {
                "method": method,
                "channel": channel,
                "error": error,
                "detail": detail,
                "at": time.time(),
            }
        )
        del self.problems[:-PROBLEMS_KEPT]
