"""SkinVL fine-tuning: LoRA on a LLaVA-architecture model (peft, HF Trainer, DeepSpeed).

Imported only by ``harness train`` and ``harness demo --train``; nothing here is
imported by ``import harness``. Modules: ``data`` (the mixture), ``collate``
(loss masking), ``lora``, ``recipes``, ``base``, ``loop``, ``merge``,
``tiny_base`` and ``demo`` (the tiny offline model), ``cli``.
"""
