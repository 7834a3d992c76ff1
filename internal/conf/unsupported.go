package conf

import "strings"

// nginxDirectives names directives of nginx's standard modules (core,
// events, http, stream, mail and their bundled modules) that headroom does
// not implement. Meeting one is an error that says so, instead of nginx's
// "unknown directive", so that users know the directive is real but
// unavailable here; in lenient mode it is recorded instead.
var nginxDirectives = setOf(`
accept_mutex_delay aio aio_write  
  ancient_browser ancient_browser_value api
   auth_http auth_http_header auth_http_pass_client_cert
auth_http_timeout auth_jwt auth_jwt_claim_set auth_jwt_header_set auth_jwt_key_file
auth_jwt_key_request auth_jwt_leeway auth_jwt_require auth_jwt_type  
  
create_full_put_path
dav_access dav_methods debug_connection debug_points directio directio_alignment
env f4f f4f_buffer_size
    
fastcgi_cache fastcgi_cache_background_update fastcgi_cache_bypass fastcgi_cache_key
fastcgi_cache_lock fastcgi_cache_lock_age fastcgi_cache_lock_timeout fastcgi_cache_max_range_offset
fastcgi_cache_methods fastcgi_cache_min_uses fastcgi_cache_path fastcgi_cache_purge
fastcgi_cache_revalidate fastcgi_cache_use_stale fastcgi_cache_valid 
 fastcgi_force_ranges  
    
  
 fastcgi_no_cache   
   
fastcgi_send_lowat   
fastcgi_store fastcgi_store_access  
flv geoip_city geoip_country geoip_org geoip_proxy geoip_proxy_recursive google_perftools_profiles
grpc_bind grpc_buffer_size grpc_connect_timeout grpc_hide_header grpc_ignore_headers
grpc_intercept_errors grpc_next_upstream grpc_next_upstream_timeout grpc_next_upstream_tries
grpc_pass grpc_pass_header grpc_read_timeout grpc_send_timeout grpc_set_header grpc_socket_keepalive
grpc_ssl_certificate grpc_ssl_certificate_key grpc_ssl_ciphers grpc_ssl_conf_command grpc_ssl_crl
grpc_ssl_name grpc_ssl_password_file grpc_ssl_protocols grpc_ssl_server_name grpc_ssl_session_reuse
grpc_ssl_trusted_certificate grpc_ssl_verify grpc_ssl_verify_depth

   health_check health_check_timeout
hls hls_buffers hls_forward_args hls_fragment hls_mp4_buffer_size hls_mp4_max_buffer_size
http2 http3 http3_hq
http3_max_concurrent_streams http3_stream_buffer_size 
image_filter image_filter_buffer image_filter_interlace image_filter_jpeg_quality
image_filter_sharpen image_filter_transparency image_filter_webp_quality imap_auth
imap_capabilities imap_client_buffer js_access js_body_filter js_content
js_fetch_buffer_size js_fetch_ciphers js_fetch_max_response_buffer_size js_fetch_protocols
js_fetch_timeout js_fetch_trusted_certificate js_fetch_verify js_fetch_verify_depth js_filter
js_header_filter js_import js_include js_path js_periodic js_preload_object js_preread js_set
js_shared_dict_zone js_var keyval keyval_zone least_time

load_module lock_file
master_process
memcached_bind memcached_buffer_size memcached_connect_timeout memcached_gzip_flag
memcached_next_upstream memcached_next_upstream_timeout memcached_next_upstream_tries
memcached_pass memcached_read_timeout memcached_send_timeout memcached_socket_keepalive
 min_delete_depth mirror mirror_request_body modern_browser modern_browser_value
mp4 mp4_buffer_size mp4_limit_rate mp4_limit_rate_after mp4_max_buffer_size mp4_start_key_frame
ntlm
outbound_interface pcre_jit perl perl_modules perl_require perl_set pop3_auth pop3_capabilities
preread_buffer_size preread_timeout protocol proxy
proxy_buffer
  

   
proxy_cache_purge 
proxy_download_rate proxy_force_ranges
proxy_half_close 

proxy_pass_error_message
proxy_pass_trailers proxy_protocol proxy_protocol_timeout 
proxy_requests proxy_responses proxy_send_lowat proxy_session_drop
proxy_smtp_auth proxy_ssl  
 proxy_ssl_conf_command proxy_ssl_crl  
   
  proxy_store proxy_store_access
proxy_timeout proxy_upload_rate quic_active_connection_id_limit quic_bpf
quic_gso quic_host_key quic_retry read_ahead 
 

      scgi_cache
scgi_cache_key scgi_cache_path scgi_cache_valid  
    
    
   send_lowat
  
session_log session_log_format session_log_zone slice smtp_auth
smtp_capabilities smtp_client_buffer smtp_greeting_delay spdy_chunk_size
spdy_headers_comp
ssl_certificate_cache
   ssl_conf_command ssl_crl 
ssl_early_data  ssl_engine ssl_handshake_timeout ssl_key_log ssl_ocsp
ssl_ocsp_cache ssl_ocsp_responder ssl_object_cache_inheritable 
 ssl_preread   
    
   
 starttls state status status_format status_zone sticky sticky_cookie_insert
stream
thread_pool timer_resolution
  
 upstream_conf userid userid_domain userid_expires userid_flags
userid_mark userid_name userid_p3p userid_path userid_service  
   uwsgi_cache uwsgi_cache_key
uwsgi_cache_path uwsgi_cache_valid  
   
     
 uwsgi_ssl_certificate 
  worker_aio_requests worker_cpu_affinity
worker_priority worker_rlimit_core working_directory xclient
xml_entities xslt_last_modified xslt_param xslt_string_param xslt_stylesheet xslt_types
mail stream
`)

// setOf splits a list of words into a set.
func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
