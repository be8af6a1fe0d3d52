"""freeseek's logic, free of Flask: tokens, providers, the pool, the relay, the OpenAI grammar."""
