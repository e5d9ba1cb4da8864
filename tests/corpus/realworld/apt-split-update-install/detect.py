print("detector")
