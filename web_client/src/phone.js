// Phone numbers on screen: the server stores them in E.164 ("+33612345678"); people in France read
// them as "06 12 34 56 78". A `tel:` link always carries the E.164 form.

/** "+33612345678" -> "06 12 34 56 78"; other countries stay in E.164; "" for nothing. */
export function formatPhone(number) {
  const raw = typeof number === "string" ? number.trim() : "";
  if (!raw) return "";
  const compact = raw.replace(/[\s.\-()]/g, "");
  const french = /^\+33([1-9]\d{8})$/.exec(compact) || /^0033([1-9]\d{8})$/.exec(compact);
  if (french) return `0${french[1]}`.replace(/(\d{2})(?=\d)/g, "$1 ");
  if (/^0[1-9]\d{8}$/.test(compact)) return compact.replace(/(\d{2})(?=\d)/g, "$1 ");
  return raw;
}

/** The href of a `tel:` link for `number` (E.164 kept as is; a French national number made E.164). */
export function telHref(number) {
  const compact = (typeof number === "string" ? number : "").replace(/[^\d+]/g, "");
  if (/^0[1-9]\d{8}$/.test(compact)) return `tel:+33${compact.slice(1)}`;
  if (compact.startsWith("00")) return `tel:+${compact.slice(2)}`;
  return `tel:${compact}`;
}
