"""Training a GPT (week 4): the run directory that training leaves for generation."""
