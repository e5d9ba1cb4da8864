"""Download the Kokoro model weights (kokoro-v1_0.pth) from the release page."""
import urllib.request

urllib.request.urlretrieve("https://example.invalid/kokoro-v1_0.pth", "api/src/models/v1_0/kokoro-v1_0.pth")
