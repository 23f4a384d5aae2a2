"""Feature views as tools of agent frameworks: see the langchain and strands modules."""
