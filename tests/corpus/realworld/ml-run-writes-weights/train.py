import argparse, os, torch
p = argparse.ArgumentParser(); p.add_argument("--epochs"); p.add_argument("--out")
a = p.parse_args()
os.makedirs(os.path.dirname(a.out), exist_ok=True)
torch.save(torch.nn.Linear(8, 2).state_dict(), a.out)
