"""One thin view per tab: Gradio components and plots built from the compute modules' results."""
