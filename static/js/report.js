// The printable meeting report: only the print button needs script (no inline handlers: CSP).
document.getElementById("print-report")?.addEventListener("click", () => window.print());
