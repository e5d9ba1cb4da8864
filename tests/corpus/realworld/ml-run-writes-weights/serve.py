import torch
head = torch.jit.load("/app/weights/head.jit")
