"""The agent: a LangGraph proof run that plans, collects, judges, retrieves and writes cited narratives."""
