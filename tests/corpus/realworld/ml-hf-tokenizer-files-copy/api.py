import os
from transformers import AutoTokenizer, AutoModelForSequenceClassification
MODEL_DIR = os.environ["MODEL_DIR"]
tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
model = AutoModelForSequenceClassification.from_pretrained(MODEL_DIR)
