"""A local Slack to try the whole loop in: the fake Web API, the page playing Slack, the runner."""
