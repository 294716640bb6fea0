"""Throughput of `oddity serve` on an OOD run, from one client on the same machine: requests of
one test digit each (sequential), then requests of 256 digits (a multipart form each).

    bench/reference/.venv/bin/python bench/ood_serve_load.py URL MODEL [REQUESTS]

URL is the server's address (`oddity serve RUN --port 8080` prints it), MODEL the run's name
(its folder's). Digits come from fixtures/mnist. Needs NumPy and Pillow (bench/reference/.venv).
"""

import gzip
import io
import sys
import time
import urllib.request

import numpy as np
from PIL import Image


def png(pixels):
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def post(url, body, content_type):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request) as answer:
        return answer.read()


def multipart(images, boundary="oddity-bench-boundary"):
    body = b""
    for i, image in enumerate(images):
        body += (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
            f"filename=\"{i}.png\"\r\nContent-Type: image/png\r\n\r\n"
        ).encode() + image + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def main():
    base, model = sys.argv[1], sys.argv[2]
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    url = f"{base}/v1/models/{model}/score"
    with gzip.open("fixtures/mnist/t10k-images-idx3-ubyte.gz") as f:
        digits = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    pngs = [png(d) for d in digits[:256]]
    for image in pngs[:5]:  # warm-up
        post(url, image, "image/png")
    start = time.perf_counter()
    for i in range(requests):
        post(url, pngs[i % len(pngs)], "image/png")
    seconds = time.perf_counter() - start
    print(f"one image a request, 1 client: {requests / seconds:.1f} requests/s, "
          f"{1000 * seconds / requests:.1f} ms each")
    content_type, body = multipart(pngs)
    post(url, body, content_type)
    rounds = 3
    start = time.perf_counter()
    for _ in range(rounds):
        post(url, body, content_type)
    seconds = (time.perf_counter() - start) / rounds
    print(f"256 images a request: {seconds:.2f} s each, {256 / seconds:.0f} images/s")


if __name__ == "__main__":
    main()
