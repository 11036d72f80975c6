"""The grokking arena's gene table: 17 hyperparameter genes of a MicroTransformer, in 7 groups.

This table is the one source of truth for the genes: bounds, scale, defaults and meanings. The
widgets, CLI choices and README table are generated from it. Defaults follow the classic AdamW
grokking recipe (lr 1e-3, weight decay 1, betas 0.9/0.98: Power et al. 2022, Nanda et al. 2023)
with standard initialisation, so the default genome is "plain grokking" and every other gene value
is a deviation from it. How the trainer applies each gene is documented in the trainer module.
"""
from __future__ import annotations

from lab.genome import Gene, GeneSpec, register_spec

_G = Gene

GROKKING_SPEC = register_spec(GeneSpec(
    name="grokking",
    title="Grokking MicroTransformer (17 genes)",
    genes=(
        # Metabolic Rate: how fast the organism burns data vs. conserves weights
        _G("learning_rate", "Learning rate", "Metabolic Rate", 1e-5, 1e-1, "log", "float", 1e-3,
           "AdamW peak learning rate (after warmup, before decay).", short="LR"),
        _G("weight_decay", "Weight decay", "Metabolic Rate", 1e-4, 10.0, "log", "float", 1.0,
           "Decoupled AdamW weight decay coefficient (times lr per step).", short="WD"),
        # Cognitive Reflexes: momentum of the optimiser
        _G("beta1", "Beta 1", "Cognitive Reflexes", 0.5, 0.99, "log1m", "float", 0.9,
           "AdamW first-moment decay; sampled uniformly in log(1 - beta1).", short="Beta1"),
        _G("beta2", "Beta 2", "Cognitive Reflexes", 0.9, 0.9999, "log1m", "float", 0.98,
           "AdamW second-moment decay; sampled uniformly in log(1 - beta2).", short="Beta2"),
        # Homeostasis: protection against shock updates
        _G("grad_clip", "Gradient clip", "Homeostasis", 0.05, 100.0, "log", "float", 1.0,
           "Global-norm gradient clipping threshold, per model.", short="Clip"),
        _G("adam_eps", "Adam epsilon", "Homeostasis", 1e-10, 1e-4, "log", "float", 1e-8,
           "AdamW epsilon added to the root of the second moment.", short="Eps"),
        # Life Cycle: warmup childhood, decaying adulthood
        _G("warmup_steps", "Warmup steps", "Life Cycle", 0, 1000, "linear", "int", 10,
           "Steps of linear learning-rate warmup from 0 to the peak.", short="Warmup"),
        _G("decay_trigger_var", "Decay trigger (var)", "Life Cycle", 1e-8, 1e-1, "log", "float", 1e-6,
           "LR decay starts once the variance of recent training losses falls below this.", short="DecayTrigger"),
        _G("decay_rate", "Decay rate", "Life Cycle", 1e-6, 1e-2, "log", "float", 1e-4,
           "Once triggered, lr is multiplied by (1 - decay_rate) every step.", short="DecayRate"),
        # Signal Modulation: pruning and amplifying pathways
        _G("dropout", "Dropout", "Signal Modulation", 0.0, 0.5, "linear", "float", 0.0,
           "Dropout probability on attention and FFN residual branches.", short="Dropout"),
        _G("layer_scale", "Layer scale", "Signal Modulation", 0.05, 4.0, "log", "float", 1.0,
           "Constant multiplier on every residual branch output.", short="LayerScale"),
        # Neural Plasticity: the initial structure of the brain
        _G("init_attn_qk", "Init attn QK", "Neural Plasticity", 0.05, 5.0, "log", "float", 1.0,
           "Init std of query/key weights, in units of 1/sqrt(d_model).", short="QK-Init"),
        _G("init_attn_v", "Init attn V", "Neural Plasticity", 0.05, 5.0, "log", "float", 1.0,
           "Init std of value/output weights, in units of 1/sqrt(d_model).", short="V-Init"),
        _G("init_ffn", "Init FFN", "Neural Plasticity", 0.05, 5.0, "log", "float", 1.0,
           "Init std of feed-forward weights, in units of 1/sqrt(fan_in).", short="FFN-Init"),
        _G("bias_scale", "Bias scale", "Neural Plasticity", 0.0, 1.0, "linear", "float", 0.0,
           "Init std of every bias (0 = zero biases).", short="Bias"),
        # Sensory Sensitivity: how strong the senses are
        _G("init_embed", "Init embed", "Sensory Sensitivity", 0.01, 3.0, "log", "float", 1.0,
           "Init std of token and position embeddings, in units of 1/sqrt(d_model).", short="Embed-Init"),
        _G("embed_ratio", "Embed ratio", "Sensory Sensitivity", 0.1, 32.0, "log", "float", 1.0,
           "Embedding starvation: embeddings train at learning_rate / embed_ratio.", short="EmbedRatio"),
    ),
))
