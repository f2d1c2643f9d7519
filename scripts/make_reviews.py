#!/usr/bin/env python3
"""Writes tests/data/reviews.jsonl: short movie reviews with a sentiment label, for training and
testing `wgbert train-head`. Hand-written openings, verdicts and details, combined
deterministically (seed 7) so that wording varies; half positive, half negative."""
import json
import random

random.seed(7)
subjects = ["The movie", "This film", "The story", "The acting", "The script", "The sequel", "The director's new picture",
            "This documentary", "The soundtrack", "The cast", "The ending", "The first half", "This thriller", "The comedy",
            "This animated feature", "The remake"]
pos = ["was absolutely wonderful", "kept me hooked from start to finish", "is a joy to watch", "moved me to tears in the best way",
       "deserves every award it gets", "was funny, warm and clever", "is the best thing I have seen this year",
       "left me smiling for days", "is beautifully shot and superbly acted", "exceeded all my expectations",
       "felt fresh and original", "was thrilling and heartfelt", "is a masterpiece", "won me over completely",
       "had me cheering", "is delightful"]
neg = ["was a complete waste of time", "bored me to sleep", "is painfully dull", "made no sense at all",
       "was the worst thing I have seen this year", "felt lazy and cheap", "is an incoherent mess", "dragged on forever",
       "was badly acted and badly written", "disappointed me deeply", "is forgettable and flat", "annoyed me throughout",
       "was a total disaster", "fell apart in every scene", "is not worth the ticket", "left me cold"]
pos_tail = ["", " I would watch it again.", " Highly recommended!", " Go see it.", " A real gem.", " Loved it."]
neg_tail = ["", " I want my money back.", " Avoid it.", " Skip this one.", " What a letdown.", " Never again."]
rows = []
for label, preds, tails in (("positive", pos, pos_tail), ("negative", neg, neg_tail)):
    seen = set()
    while len(seen) < 150:  # unique texts, so the held-out split never repeats a training row
        text = f"{random.choice(subjects)} {random.choice(preds)}.{random.choice(tails)}"
        if text not in seen:
            seen.add(text)
            rows.append({"text": text, "label": label})
random.shuffle(rows)
with open("tests/data/reviews.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
print(len(rows), "rows")
