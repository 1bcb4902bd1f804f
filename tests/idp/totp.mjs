// RFC 6238 TOTP (RFC 4226 HOTP with a time counter), node:crypto only.
import { createHmac } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(input) {
  const clean = String(input).toUpperCase().replace(/=+$/, '').replace(/\s+/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = B32.indexOf(ch);
    if (idx === -1) throw new Error(`invalid base32 character ${ch}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function hotp(key, counter, digits = 6, algorithm = 'sha1') {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[offset] & 0x7f) << 24)
    | (mac[offset + 1] << 16)
    | (mac[offset + 2] << 8)
    | mac[offset + 3];
  return String(bin % 10 ** digits).padStart(digits, '0');
}

/** TOTP for a base32 secret at time `nowMs` (SHA1, 6 digits, 30 s step by default). */
export function totp(base32Secret, nowMs = Date.now(), { step = 30, digits = 6 } = {}) {
  return hotp(base32Decode(base32Secret), Math.floor(nowMs / 1000 / step), digits);
}

/** Accepts the current code and the codes of +/- `window` steps (clock skew, like Keycloak). */
export function verifyTotp(base32Secret, code, { window = 1, step = 30, nowMs = Date.now() } = {}) {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return false;
  const key = base32Decode(base32Secret);
  const counter = Math.floor(nowMs / 1000 / step);
  for (let i = -window; i <= window; i += 1) {
    if (hotp(key, counter + i) === code) return true;
  }
  return false;
}
