//! The tables, written by hand with types both SQLite and PostgreSQL have.

diesel::table! {
    products (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        price_minor -> BigInt,
        currency -> Text,
        vat_rate_bp -> BigInt,
        stock -> BigInt,
        active -> Bool,
        position -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    shipping_methods (code) {
        code -> Text,
        name -> Text,
        price_minor -> BigInt,
        currency -> Text,
        vat_rate_bp -> BigInt,
        free_above_minor -> Nullable<BigInt>,
        position -> BigInt,
    }
}

diesel::table! {
    vouchers (code) {
        code -> Text,
        percent -> BigInt,
        active -> Bool,
        valid_until -> Nullable<Timestamp>,
        max_uses -> Nullable<BigInt>,
        uses -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    carts (id) {
        id -> Text,
        user_id -> Nullable<Text>,
        status -> Text,
        checkout -> Nullable<Text>,
        order_id -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        guest_token -> Nullable<Text>,
    }
}

diesel::table! {
    cart_lines (cart_id, product_id) {
        cart_id -> Text,
        product_id -> Text,
        quantity -> BigInt,
        unit_price_minor -> BigInt,
        added_at -> Timestamp,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        number -> Text,
        token -> Text,
        cart_id -> Text,
        user_id -> Nullable<Text>,
        email -> Text,
        status -> Text,
        currency -> Text,
        subtotal_minor -> BigInt,
        shipping_minor -> BigInt,
        discount_minor -> BigInt,
        vat_minor -> BigInt,
        total_minor -> BigInt,
        shipping_method -> Text,
        voucher_code -> Nullable<Text>,
        details -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        registration_id -> Nullable<Text>,
    }
}

diesel::table! {
    order_lines (order_id, position) {
        order_id -> Text,
        position -> BigInt,
        product_id -> Text,
        name -> Text,
        quantity -> BigInt,
        unit_price_minor -> BigInt,
        vat_rate_bp -> BigInt,
        total_minor -> BigInt,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        process_id -> Text,
        cart_id -> Text,
        order_id -> Nullable<Text>,
        gateway -> Text,
        method -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        idempotency_key -> Text,
        provider_reference -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        registration_id -> Nullable<Text>,
        checked_at -> Nullable<Timestamp>,
        captured_minor -> BigInt,
        refunded_minor -> BigInt,
        released -> Bool,
    }
}

diesel::table! {
    place_order_process (id) {
        id -> Text,
        cart_id -> Text,
        state -> Text,
        context -> Text,
        failure -> Nullable<Text>,
        idempotency_key -> Text,
        is_final -> Bool,
        version -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (event_id) {
        event_id -> Text,
        kind -> Text,
        received_at -> Timestamp,
        provider_reference -> Nullable<Text>,
    }
}

diesel::table! {
    registrations (cart_id) {
        cart_id -> Text,
        email -> Text,
        registration_id -> Text,
        status -> Text,
        generation -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        cart_id -> Text,
        payload -> Text,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        order_id -> Text,
        status -> Text,
        carrier -> Nullable<Text>,
        tracking_number -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
diesel::table! {
    delivery_lines (delivery_id, position) {
        delivery_id -> Text,
        position -> BigInt,
        quantity -> BigInt,
    }
}
diesel::table! {
    payment_operations (id) {
        id -> Text,
        order_id -> Text,
        payment_id -> Text,
        kind -> Text,
        amount_minor -> BigInt,
        status -> Text,
        reason -> Nullable<Text>,
        actor -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
diesel::table! {
    order_events (id) {
        id -> Text,
        order_id -> Text,
        at -> Timestamp,
        actor -> Text,
        kind -> Text,
        detail -> Text,
    }
}

diesel::table! {
    staff (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    staff_sessions (id_hash) {
        id_hash -> Text,
        staff_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    staff_login_attempts (id) {
        id -> Text,
        email -> Text,
        ip -> Text,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_idempotency (caller_key_id, idempotency_key) {
        caller_key_id -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        state -> Text,
        status_code -> Nullable<BigInt>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        claimed_at -> Timestamp,
    }
}

diesel::table! {
    mails (id) {
        id -> Text,
        kind -> Text,
        order_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        reference -> Text,
        dedupe -> Nullable<Text>,
        recipient -> Text,
        recipient_name -> Text,
        status -> Text,
        attempts -> BigInt,
        last_error -> Nullable<Text>,
        subject -> Nullable<Text>,
        text_body -> Nullable<Text>,
        html_body -> Nullable<Text>,
        actor -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_resets (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    password_reset_requests (id) {
        id -> Text,
        ip -> Text,
        requested_at -> Timestamp,
    }
}

diesel::joinable!(cart_lines -> carts (cart_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(staff_sessions -> staff (staff_id));
diesel::joinable!(password_resets -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    products,
    shipping_methods,
    vouchers,
    users,
    carts,
    cart_lines,
    counters,
    orders,
    order_lines,
    payments,
    place_order_process,
    webhook_events,
    registrations,
    outbox,
    deliveries,
    delivery_lines,
    payment_operations,
    order_events,
    staff,
    staff_sessions,
    staff_login_attempts,
    api_keys,
    api_idempotency,
    mails,
    password_resets,
    password_reset_requests,
);
