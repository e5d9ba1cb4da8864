import torch
model = torch.jit.load("models/vad.jit")
