"""SOC 2 knowledge: the Trust Services Criteria, the control library and the Chroma vector store."""
