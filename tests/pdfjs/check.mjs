// check.mjs PDF PASSWORD EXPECTED_TEXT: opens PDF with pdf.js (the reader inside Firefox, and
// the engine of many web viewers) using PASSWORD, extracts the text of page 1 and looks for
// EXPECTED_TEXT in it. pdf.js has its own R6/AES-256 code, so this is an independent check of
// what qpdf, poppler and mupdf already accept.
// Exit status: 0 found; 1 opened but the text is not on page 1; 2 password refused;
// 3 any other failure; 64 usage.
import { readFile } from "node:fs/promises";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";

// pdf.js splits text into runs at its own places; compare with runs of white space collapsed.
const squash = (s) => s.normalize("NFC").replace(/\s+/gu, " ").trim();

async function pageOneText(path, password) {
  const data = new Uint8Array(await readFile(path));
  const task = getDocument({ data, password, isEvalSupported: false, disableFontFace: true,
                             useSystemFonts: false, verbosity: 0 });
  try {
    const doc = await task.promise;
    const page = await doc.getPage(1);
    const content = await page.getTextContent();
    return content.items.map((it) => (it.str ?? "") + (it.hasEOL ? "\n" : "")).join("");
  } finally {
    await task.destroy();
  }
}

async function main(argv) {
  if (argv.length !== 3) {
    console.error("usage: node check.mjs PDF PASSWORD EXPECTED_TEXT");
    return 64;
  }
  const [path, password, expected] = argv;
  let text;
  try {
    text = await pageOneText(path, password);
  } catch (e) {
    if (e?.name === "PasswordException") {
      console.error(`pdfjs: password refused (${e.message})`);
      return 2;
    }
    console.error(`pdfjs: cannot open ${path}: ${e?.name ?? "error"}: ${e?.message ?? e}`);
    return 3;
  }
  if (squash(text).includes(squash(expected)))
    return 0;
  console.error(`pdfjs: "${expected}" not on page 1; page 1 reads:\n${text.slice(0, 2000)}`);
  return 1;
}

process.exitCode = await main(process.argv.slice(2));
