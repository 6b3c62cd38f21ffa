// Writes jws-vectors.json: one public JWK, signing input and signature per JWS algorithm openidconnect supports,
// made with Node's own crypto (an implementation independent of both verifiers the tests compare).
//   node providers/tests/vectors/make-jws-vectors.mjs > providers/tests/vectors/jws-vectors.json
import { generateKeyPairSync, sign, constants } from 'node:crypto';

const message = 'eyJhbGciOiJ0ZXN0In0.eyJzdWIiOiJ1c2VyLTQyIn0';
const algs = [
  ['RS256', 'rsa', 'sha256'], ['RS384', 'rsa', 'sha384'], ['RS512', 'rsa', 'sha512'],
  ['PS256', 'rsa', 'sha256', 32], ['PS384', 'rsa', 'sha384', 48], ['PS512', 'rsa', 'sha512', 64],
  ['ES256', 'P-256', 'sha256'], ['ES384', 'P-384', 'sha384'], ['EdDSA', 'ed25519', null],
];
const vectors = algs.map(([alg, kind, hash, salt]) => {
  const { publicKey, privateKey } = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: kind });
  const key = salt ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: salt }
    : kind.startsWith('P-') ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey;
  const signature = sign(hash, Buffer.from(message), key).toString('base64url');
  return { alg, jwk: { ...publicKey.export({ format: 'jwk' }), kid: alg.toLowerCase(), use: 'sig' }, message, signature };
});
process.stdout.write(JSON.stringify(vectors, null, 1) + '\n');
