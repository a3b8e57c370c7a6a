"""Generation: text from a trained language model, with temperature, top-k and a KV cache."""
