"""A hand-written Python client for the bulk comparison: the same generated cards as
benches/support/bulk.rs, batches of 10,000 in input order, Amex per SE number, 4 requests in
flight (a thread pool), `requests` + `json`. Prints the number of cards sent and the seconds.

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


def with_check_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def raw_card(i):
    if i % 20 == 0:
        se = "1111111111" if i % 40 == 0 else "2222222222"
        pan = with_check_digit("37%012d" % (i % 1_000_000_000_000))
    else:
        se = None
        prefix = ("4", "51", "6011")[i % 3]
        pan = with_check_digit(prefix + str(i).zfill(15 - len(prefix)))
    card = {"id": "c%d" % i, "card": pan, "exp": "%02d/%02d" % (1 + i % 12, 30)}
    if se:
        card = {"se_number": se, **card}
    return se, card


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
