// The public programme page of a network: its dates and times are written on the server in
// the page's language, so a language switch loads the page again in the new one.
import { onLanguageChange } from "./i18n.js";

onLanguageChange(() => location.reload());
