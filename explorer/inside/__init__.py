"""Inside the Transformer: the mechanics the lecture notes derive, computed on a real model.

- `anatomy`: where a layer's attention lives in each supported architecture, and one head's weights;
- `trace`: one forward of a text, recorded at every layer by hooks on the real modules (cached);
- `steps`: one head recomputed by hand, step by step, checked against the model's own softmax;
- `scaling`: why the scores are divided by √d_k (random vectors, then the model's own heads);
- `scores`: dot-product, multiplicative and additive scores on the notes' toy example;
- `positions`: sinusoidal positions beside the rotary ones SmolLM2 and Gemma use;
- `block`: the notes' block beside the model's, its parameters counted, the residual stream's norm.
"""
