"""A hand-written Python client for the bulk comparison: the same cards as
benches/support/bulk.rs (fixed card numbers and expiry, an id per card), batches of 10,000 in
input order, Amex per SE number, 4 requests in flight (a thread pool), `requests` + `json`.
Prints the number of cards sent and the seconds.

    python3 benches/support/bulk_requests.py BASE_URL N
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

CHUNK = 10_000
IN_FLIGHT = 4
KEY = "bench-merchant-key"


PANS = ("4111111111111111", "5555555555554444", "6011111111111117")
AMEX_PAN = "378282246310005"
EXP = "12/30"


def raw_card(i):
    if i % 20 == 0:
        se = "1111111111" if i % 40 == 0 else "2222222222"
        return se, {"se_number": se, "id": "c%d" % i, "card": AMEX_PAN, "exp": EXP}
    return None, {"id": "c%d" % i, "card": PANS[i % 3], "exp": EXP}


def chunks(n):
    batch, amex = [], {}
    for i in range(n):
        se, card = raw_card(i)
        if se is None:
            batch.append(card)
            if len(batch) == CHUNK:
                yield "v2/batch", batch
                batch = []
        else:
            group = amex.setdefault(se, [])
            group.append(card)
            if len(group) == CHUNK:
                yield "v2/subscribe", group
                amex[se] = []
    if batch:
        yield "v2/batch", batch
    for group in amex.values():
        if group:
            yield "v2/subscribe", group


def main():
    base, n = sys.argv[1], int(sys.argv[2])
    session = requests.Session()
    headers = {"authorization": KEY, "content-type": "application/json"}

    def post(item):
        path, cards = item
        r = session.post(base + path, data=json.dumps({"cards": cards}), headers=headers)
        assert r.json()["status"] == "success"
        return len(cards)

    start = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        sent = sum(pool.map(post, chunks(n)))
    print(sent, time.perf_counter() - start)


if __name__ == "__main__":
    main()
