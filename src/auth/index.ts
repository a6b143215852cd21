// The auth module's surface, for the server and the API.
export { AuthStore, callerFromHeader, tokenFromMetadata, ROOT_ROLE, ROOT_USER, DEFAULT_BCRYPT_COST, type AuthStoreOptions } from './store.js';
export { AuthField, AUTH_CODECS, AUTH_ACCESS, isAuthField, type AuthFieldNumber, type AuthRequests, type AuthResponses, type ClientAuthRequests } from './fields.js';
export { AuthErrors, AuthConfigError, AuthConfigErrors } from './errors.js';
export { parseAuthTokenOption, type AuthInfo, type TokenConfig, type JwtTokenConfig } from './tokens.js';
export { simpleTokenIndex } from './simple-token.js';
