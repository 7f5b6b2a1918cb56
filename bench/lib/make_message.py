"""make_message.py FILE SUBJECT BODY_BYTES ATTACHMENT_BYTES: a benchmark message with a prose body
(words and spaces, the common case, not the 2 MB-line worst case) and one random attachment (it
neither compresses nor gets cheaper than a real file). Used by bench/pdf and bench/webmail."""
import random
import sys
from email.message import EmailMessage

path, subject, body_n, att_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(5)
words = ("quarterly figures merger contract invoice partner delivery schedule review "
         "budget account summary attached details meeting agreement").split()
lines, size = [], 0
while size < body_n:
    line = " ".join(rnd.choice(words) for _ in range(11))
    lines.append(line)
    size += len(line) + 1
m = EmailMessage()
m["From"] = "bench@example.com"
m["To"] = "sink@remote.test"
m["Subject"] = subject
m.set_content("\n".join(lines) + "\n")
m.add_attachment(rnd.randbytes(att_n), maintype="application", subtype="octet-stream",
                 filename="report.bin")
open(path, "wb").write(bytes(m))
