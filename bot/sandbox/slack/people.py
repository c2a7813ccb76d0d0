"""What Slack does when a person acts on the page: store it, sign a request, send it to the app,
and show the app's answer (an ack, a modal's response_action, the options of a select).

Every request goes to the app's request URL exactly as Slack sends it over HTTP, signed with
the app's signing secret; the app answers through the Web API and response_urls of the fake.
Nothing here holds the fake's lock while the app is working, since the app calls back into it.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.errors import TriageError

from .blockkit import blocks_problem, view_problem
from .signing import (
    VERIFICATION_TOKEN,
    Signed,
    interaction_user,
    new_trigger_id,
    signed_app_home_opened,
    signed_block_suggestion,
    signed_event,
    signed_interaction,
    signed_slash_command,
)

if TYPE_CHECKING:
    from .server import FakeSlack
    from .workspace import Workspace

ACK_SECONDS = 3.0  # Slack gives up on an app that takes longer, and says so
REQUEST_TIMEOUT = 15.0  # the sandbox still waits, and shows the late answer with a warning
SELECTS = ("static_select", "external_select", "overflow", "radio_buttons")
STATEFUL = (*SELECTS, "checkboxes", "plain_text_input", "datepicker", "timepicker")


class ActionRefused(TriageError):
    """What the person tried cannot be done (unknown message, element gone); shown as is."""


@dataclass(frozen=True)
class AppLink:
    """Where Slack sends the app's requests, and the secret it signs them with."""

    request_url: str
    signing_secret: str


@dataclass(frozen=True)
class AppAnswer:
    """The app's HTTP answer to one request, or why there was none."""

    status: int
    body: Any
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    def failure(self) -> str | None:
        """Slack's words for a request the app did not acknowledge, or None."""
        if self.error is not None:
            return "dispatch_failed"
        if self.status != 200:
            return f"http_error_{self.status}"
        return None

    def late(self) -> str | None:
        """A note when the app answered after Slack would have given up."""
        if self.seconds <= ACK_SECONDS:
            return None
        return (
            f"The app took {self.seconds:.1f} s to answer; Slack gives up after "
            f"{ACK_SECONDS:.0f} s (operation_timeout)."
        )


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def send(link: AppLink, signed: Signed, timeout: float = REQUEST_TIMEOUT) -> AppAnswer:
    """POST one signed request to the app and read its answer."""
    body, headers = signed
    request = urllib.request.Request(link.request_url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
            kind = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, raw, kind = error.code, error.read(), error.headers.get("Content-Type", "")
    except OSError as error:
        return AppAnswer(0, None, time.monotonic() - started, f"{type(error).__name__}: {error}")
    return AppAnswer(status, _decode(raw, kind), time.monotonic() - started)


def _decode(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", "replace")
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def elements(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every element with an action_id, with the id of its block (Slack makes one up when the
    app gave none)."""
    for index, block in enumerate(blocks or []):
        block_id = str(block.get("block_id") or f"blk{index}")
        found = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
        for element in found:
            if isinstance(element, dict) and element.get("action_id"):
                yield block_id, element


def _option(element: dict[str, Any], value: Any) -> dict[str, Any] | None:
    """The option of a static select (or overflow, radio) with this value."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    for option in options:
        if option.get("value") == value:
            return {k: copy.deepcopy(v) for k, v in option.items() if k in ("text", "value")}
    return None


def chosen(element: dict[str, Any], choice: Any) -> dict[str, Any]:
    """The state Slack reports for an element given what the person picked or typed."""
    kind = element["type"]
    state: dict[str, Any] = {"type": kind}
    if kind == "external_select":
        picked = choice if isinstance(choice, dict) and "value" in choice else None
        state["selected_option"] = (
            None
            if picked is None
            else {
                "text": {"type": "plain_text", "text": str(picked.get("text", picked["value"]))},
                "value": str(picked["value"]),
            }
        )
    elif kind in SELECTS:
        value = choice.get("value") if isinstance(choice, dict) else choice
        state["selected_option"] = None if value is None else _option(element, value)
    elif kind == "checkboxes":
        values = choice if isinstance(choice, list) else []
        state["selected_options"] = [o for v in values if (o := _option(element, v))]
    elif kind == "datepicker":
        state["selected_date"] = choice or None
    elif kind == "timepicker":
        state["selected_time"] = choice or None
    else:
        state["value"] = None if choice in (None, "") else str(choice)
    return state


def state_values(
    blocks: list[dict[str, Any]], choices: dict[str, Any], kept: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """`state.values` for the stateful elements of some blocks: {block_id: {action_id: ...}}."""
    values: dict[str, dict[str, Any]] = copy.deepcopy(kept or {})
    for block_id, element in elements(blocks):
        action_id = element["action_id"]
        if element["type"] not in STATEFUL:
            continue
        if action_id in choices:
            values.setdefault(block_id, {})[action_id] = chosen(element, choices[action_id])
        else:
            values.setdefault(block_id, {}).setdefault(action_id, chosen(element, None))
    return values


def _filled(state: dict[str, Any]) -> bool:
    return any(state.get(key) for key in ("value", "selected_option", "selected_options"))


class People:
    """The page's people acting in the fake workspace, and Slack carrying it to the app."""

    def __init__(self, fake: FakeSlack, link: AppLink, *, commands: tuple[str, ...]) -> None:
        self.fake, self.link, self.commands = fake, link, commands

    def _person(self, workspace: Workspace, user: str) -> str:
        if user not in workspace.users:
            raise ActionRefused(f"{user} is not a person in this workspace")
        return str(workspace.users[user].get("name", user))

    def _channel(self, workspace: Workspace, channel: str) -> str:
        found = workspace.channel_id(channel, create=False)
        if found is None:
            raise ActionRefused(f"there is no channel {channel}")
        return found

    def _problem(self, where: str | None, what: str, answer: AppAnswer) -> None:
        """Tell the page that the app did not take a request, or took too long."""
        failure, late = answer.failure(), answer.late()
        if failure is None and late is None:
            return
        with self.fake.changing() as workspace:
            detail = answer.error or late or f"HTTP {answer.status}: {str(answer.body)[:300]}"
            workspace.note_problem(what, where, failure or "slow_ack", detail)

    # -- messages and commands ---------------------------------------------------------------

    def post_message(self, user: str, channel: str, text: str, thread_ts: str | None) -> None:
        """A message typed in a channel: stored, then sent to the app as a message event."""
        if not text.strip():
            raise ActionRefused("type a message first")
        with self.fake.changing() as workspace:
            self._person(workspace, user)
            channel = self._channel(workspace, channel)
            event = workspace.post_as_person(user, channel, _escape(text), thread_ts)
            team, bot = workspace.team_id, workspace.bot_user_id
        signed = signed_event(self.link.signing_secret, event, team_id=team, bot_user_id=bot)
        self._problem(channel, "message event", send(self.link, signed))

    def run_command(self, user: str, channel: str, line: str) -> None:
        """A `/command text` line typed in the composer, answered privately as Slack does."""
        command, _, text = line.strip().partition(" ")
        with self.fake.changing() as workspace:
            name = self._person(workspace, user)
            channel = self._channel(workspace, channel)
            if command not in self.commands:
                workspace.add_private_reply(
                    user,
                    channel,
                    {
                        "text": f"{command} is not a valid command. In Slack, all messages that "
                        'start with the "/" character are interpreted as commands.'
                    },
                )
                return
            for word in text.split():  # in Slack one picks an existing channel; here naming
                if word.startswith("#"):  # one makes it, so a route can point anywhere
                    workspace.channel_id(word)
            trigger = new_trigger_id()
            workspace.triggers[trigger] = user
            response_url = self.fake.new_response_url(channel, None, user)
            channel_name = str(workspace.channels[channel].get("name", channel))
            team = workspace.team_id
        signed = signed_slash_command(
            self.link.signing_secret,
            command=command,
            text=text.strip(),
            user_id=user,
            user_name=name,
            channel_id=channel,
            channel_name=channel_name,
            response_url=response_url,
            trigger_id=trigger,
            team_id=team,
        )
        answer = send(self.link, signed)
        with self.fake.changing() as workspace:
            failure = answer.failure()
            shown = {"command": line.strip()}
            if failure is not None:
                reply = {"text": f'{command} failed with the error "{failure}"'}
            elif isinstance(answer.body, dict) and (
                answer.body.get("text") or "blocks" in answer.body
            ):
                reply = answer.body
            elif isinstance(answer.body, str) and answer.body.strip():
                reply = {"text": answer.body}
            else:
                reply = {}
            if reply and reply.get("response_type") == "in_channel":
                workspace.chat_post_message({**reply, "channel": channel})
            elif reply:
                problem = blocks_problem(reply)
                if problem is not None:
                    workspace.note_problem(command, channel, "invalid_blocks", problem)
                else:
                    workspace.add_private_reply(user, channel, {**reply, **shown})
        self._problem(channel, command, answer)

    # -- interactive elements ------------------------------------------------------------------

    def _container(
        self, workspace: Workspace, user: str, where: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(container, the message or view acted on) for a page location."""
        if where.get("view_id"):
            view = workspace.views.get(str(where["view_id"]))
            if view is None:
                raise ActionRefused("this view is gone")
            return {"type": "view", "view_id": view["id"]}, view
        channel = self._channel(workspace, str(where.get("channel", "")))
        ts = str(where.get("ts", ""))
        message = workspace.posted.get((channel, ts))
        ephemeral = False
        if message is None:
            message = next(
                (
                    m
                    for m in workspace.ephemerals + workspace.private_replies
                    if m.get("message_ts") == ts and m.get("user") == user
                ),
                None,
            )
            ephemeral = True
        if message is None:
            raise ActionRefused("this message is gone")
        container = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        return container, message

    def _common(self, workspace: Workspace, user: str, kind: str) -> dict[str, Any]:
        name = self._person(workspace, user)
        return {
            "type": kind,
            "user": interaction_user(user, name, workspace.team_id),
            "api_app_id": "A0001",
            "token": VERIFICATION_TOKEN,
            "team": {"id": workspace.team_id, "domain": "sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def act(
        self, user: str, where: dict[str, Any], action_id: str, choice: Any, state: dict[str, Any]
    ) -> None:
        """A click on a button or a pick in a menu: a block_actions request to the app."""
        with self.fake.changing() as workspace:
            container, target = self._container(workspace, user, where)
            blocks = target.get("blocks") or []
            found = [(b, e) for b, e in elements(blocks) if e["action_id"] == action_id]
            if not found:
                raise ActionRefused("this button or menu is no longer there")
            block_id, element = found[0]
            choices = {**state, action_id: choice}
            action = {
                **chosen(element, choice),
                "action_id": action_id,
                "block_id": block_id,
                "action_ts": f"{time.time():.6f}",
            }
            if element["type"] == "button":
                action = {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": copy.deepcopy(element["text"]),
                    "action_ts": action["action_ts"],
                    **{k: element[k] for k in ("value", "style") if k in element},
                }
            trigger = new_trigger_id()
            workspace.triggers[trigger] = user
            payload = {
                **self._common(workspace, user, "block_actions"),
                "container": container,
                "trigger_id": trigger,
                "actions": [action],
            }
            where_channel = str(container.get("channel_id") or "") or None
            if container["type"] == "view" or where_channel is None:
                view = target
                view["state"] = {"values": state_values(blocks, choices, view["state"]["values"])}
                payload["view"] = copy.deepcopy(view)
            else:
                payload["channel"] = {
                    "id": where_channel,
                    "name": workspace.channels.get(where_channel, {}).get("name", where_channel),
                }
                payload["state"] = {"values": state_values(blocks, choices)}
                payload["response_url"] = self.fake.new_response_url(
                    where_channel,
                    None if container["is_ephemeral"] else container["message_ts"],
                    user,
                )
                if not container["is_ephemeral"]:
                    payload["message"] = {
                        k: copy.deepcopy(v) for k, v in target.items() if k != "channel"
                    }
        answer = send(self.link, signed_interaction(self.link.signing_secret, payload))
        self._problem(where_channel, "block_actions", answer)

    def options(
        self, user: str, where: dict[str, Any], action_id: str, query: str
    ) -> list[dict[str, Any]]:
        """An external select's options as the person types: a block_suggestion request."""
        with self.fake.changing() as workspace:
            container, target = self._container(workspace, user, where)
            found = [
                b for b, e in elements(target.get("blocks") or []) if e["action_id"] == action_id
            ]
            if not found:
                raise ActionRefused("this menu is no longer there")
            name, team = self._person(workspace, user), workspace.team_id
            channel = container.get("channel_id")
        signed = signed_block_suggestion(
            self.link.signing_secret,
            user_id=user,
            user_name=name,
            action_id=action_id,
            block_id=found[0],
            value=query,
            channel_id=channel,
            message_ts=container.get("message_ts"),
            team_id=team,
        )
        answer = send(self.link, signed)
        self._problem(channel, "block_suggestion", answer)
        body = answer.body if answer.ok and isinstance(answer.body, dict) else {}
        options = list(body.get("options") or [])
        for group in body.get("option_groups") or []:
            options += group.get("options") or []
        if len(options) > 100:
            raise ActionRefused(f"the app sent {len(options)} options; Slack shows at most 100")
        return options

    # -- App Home and modals -------------------------------------------------------------------

    def open_home(self, user: str) -> None:
        """The person opened the app's Home tab: an app_home_opened event."""
        with self.fake.changing() as workspace:
            self._person(workspace, user)
            team, bot = workspace.team_id, workspace.bot_user_id
        signed = signed_app_home_opened(
            self.link.signing_secret,
            user_id=user,
            channel_id=f"D{user}",
            team_id=team,
            bot_user_id=bot,
        )
        self._problem(None, "app_home_opened", send(self.link, signed))

    def submit(self, user: str, view_id: str, choices: dict[str, Any]) -> dict[str, str]:
        """Submit the person's top modal; returns the errors to show under its inputs."""
        with self.fake.changing() as workspace:
            stack = workspace.modals.get(user) or []
            if not stack or stack[-1] != view_id:
                raise ActionRefused("this modal is not open")
            view = workspace.views[view_id]
            values = state_values(view.get("blocks") or [], choices, view["state"]["values"])
            view["state"] = {"values": values}
            missing = {
                str(block.get("block_id") or f"blk{i}"): "Please complete this required field."
                for i, block in enumerate(view.get("blocks") or [])
                if block.get("type") == "input"
                and not block.get("optional")
                and not any(
                    _filled(s)
                    for s in values.get(str(block.get("block_id") or f"blk{i}"), {}).values()
                )
            }
            if missing:
                return missing
            trigger = new_trigger_id()
            workspace.triggers[trigger] = user
            payload = {
                **self._common(workspace, user, "view_submission"),
                "trigger_id": trigger,
                "view": copy.deepcopy(view),
                "response_urls": [],
            }
        answer = send(self.link, signed_interaction(self.link.signing_secret, payload))
        self._problem(None, "view_submission", answer)
        if not answer.ok:
            return {}
        body = answer.body if isinstance(answer.body, dict) else {}
        with self.fake.changing() as workspace:
            return self._respond_to_submission(workspace, user, view_id, body)

    def _respond_to_submission(
        self, workspace: Workspace, user: str, view_id: str, body: dict[str, Any]
    ) -> dict[str, str]:
        """Apply a view_submission's response_action the way Slack does."""
        stack = workspace.modals.setdefault(user, [])
        action = body.get("response_action")
        if action == "errors":
            return {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
        if action in ("update", "push"):
            view = body.get("view") or {}
            problem = view_problem(view)
            if problem is not None:
                workspace.note_problem(
                    f"response_action {action}", None, "invalid_arguments", problem
                )
                return {}
            stored = workspace.store_view(view, view_id if action == "update" else None)
            if action == "push":
                stack.append(stored["view"]["id"])
            return {}
        if action == "clear":
            stack.clear()
        elif view_id in stack:
            stack.remove(view_id)
        return {}

    def close(self, user: str, view_id: str) -> None:
        """The person closed their top modal; the app hears of it if it asked to."""
        with self.fake.changing() as workspace:
            stack = workspace.modals.get(user) or []
            if view_id not in stack:
                return
            view = workspace.views[view_id]
            stack.remove(view_id)
            if not view.get("notify_on_close"):
                return
            payload = {
                **self._common(workspace, user, "view_closed"),
                "view": copy.deepcopy(view),
                "is_cleared": False,
            }
        answer = send(self.link, signed_interaction(self.link.signing_secret, payload))
        self._problem(None, "view_closed", answer)


def _escape(text: str) -> str:
    """Slack escapes these three in the text of the messages it stores and sends."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
