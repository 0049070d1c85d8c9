raise ImportError("torch is broken on purpose (test of llm-course check)")
