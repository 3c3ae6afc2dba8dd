"""The review TUI: a compliance lead reviews drafts and chats with the agent in the terminal."""
